"""The live service's moving parts: the clock, the hub that owns the kitchen, probe supervision."""
