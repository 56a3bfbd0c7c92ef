"""Life after the program: the aftercare plan, alumni mode on Today and the meeting finder."""
