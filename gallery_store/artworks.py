"""Placeholder while this service is written."""


class Artworks:
    def __init__(self, studio):
        self.studio = studio
