"""Indicators and rankings: definitions as data, computed per unit and day, published monthly."""
