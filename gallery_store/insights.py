"""Placeholder while this service is written."""


class Insights:
    def __init__(self, studio):
        self.studio = studio
