"""What every room's HTTP side shares: JSON responses, marshmallow fields with the error
texts edge daemons expect, the compiled validation fast path, and query arguments."""
