"""Reviews of a plan: evaluations with findings per goal, achievement history, overdue reviews."""
