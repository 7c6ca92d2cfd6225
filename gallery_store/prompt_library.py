"""Placeholder while this service is written."""


class PromptLibrary:
    def __init__(self, studio):
        self.studio = studio
