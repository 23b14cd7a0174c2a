"""The `stepwise` stage: teacher traces -> first / mid / final examples and their statistics.

kinds: the three kinds and the data variants built from them; build: examples, prompts rebuilt
byte for byte as the loop showed them, statistics; cli: `steper stepwise build`. Free of torch, so
building step-wise data never pays for the training stack.
"""
