"""Tables, figures and the reproduction report, rendered from result files alone."""
