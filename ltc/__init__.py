"""LTC: case management for China's long-term care insurance (长期护理保险)."""
