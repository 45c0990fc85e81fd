"""potwatch: follows a recipe on a kitchen thermometer and says when the pot needs the cook."""

__version__ = "0.2.0"
