"""Placeholder while this service is written."""


class Exports:
    def __init__(self, studio):
        self.studio = studio
