"""Placeholder while this service is written."""


class Reflections:
    def __init__(self, studio):
        self.studio = studio
