"""Activities (tiltak): what each side does, optionally towards a goal."""
