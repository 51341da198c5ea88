"""The only code that decides who may see or change what. See ``policy``."""
