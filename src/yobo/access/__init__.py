"""Staff accounts, duties, terminals, two factors, idle lock (職員・権限・端末)."""
