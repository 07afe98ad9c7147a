"""Citizen participation: surveys, voter petitions, resolution follow-up."""
