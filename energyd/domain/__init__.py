"""Pure domain logic: slots and units, market calendars, figures and windows, fetch planning,
health. No I/O, and no imports from any other layer of energyd."""
