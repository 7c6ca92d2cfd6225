"""Placeholder while this service is written."""


class Moderation:
    def __init__(self, studio):
        self.studio = studio
