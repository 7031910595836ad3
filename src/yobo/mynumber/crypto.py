"""Field encryption and blind index for My Numbers. Only the mynumber app imports this."""
