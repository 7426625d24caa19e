//! Buffers for TCP: the ring buffer and the out-of-order assembler.
