"""The administrative procedure catalog: what a citizen can apply for, where, for how much."""
