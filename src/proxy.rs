//! The proxy facade: one call that wires listener, forwarder, tap, recorder and trace store.
//! (to be written)
