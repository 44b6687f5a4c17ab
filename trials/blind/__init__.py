"""Blind A/B comparisons of two policy versions on a physical robot: each version a sealed trial, the
agent jobs interleaved in a balanced random order, unblinded when both trials end (core.blind)."""
