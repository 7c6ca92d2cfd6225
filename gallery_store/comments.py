"""Placeholder while this service is written."""


class Comments:
    def __init__(self, studio):
        self.studio = studio


class Reactions:
    def __init__(self, studio):
        self.studio = studio
