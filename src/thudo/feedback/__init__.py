"""Citizen reports (phản ánh kiến nghị) and Open311 GeoReport v2."""
