"""The shared plan: one open plan per patient, scoped to a DPS unit and a NAV office."""
