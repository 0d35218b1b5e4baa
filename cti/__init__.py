"""hotline-cti: the telephony side of a customer-care center, driving Asterisk through ARI."""

__version__ = "0.1.0"
