"""Learning-rate schedules with fairseq's formulas and flags, one module per schedule.

Nothing is imported here: choosing a schedule imports only its own module.
"""
