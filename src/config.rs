//! Configuration from the `TAPSTACK_*` environment variables.
