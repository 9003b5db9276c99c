"""kechuang (科创): a platform for a city's science-and-technology innovation system."""

__version__ = "0.1.0"
