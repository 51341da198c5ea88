"""The care team: named people who are in a plan's scope even outside its unit or office."""
