"""The HTTP front on Ray Serve (the cost dashboard and `/v1/costs` are in ``dashboard``)."""
