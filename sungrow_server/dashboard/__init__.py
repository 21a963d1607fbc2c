"""The server's own page: live values, today's curve and energy bars, at `GET /`."""
