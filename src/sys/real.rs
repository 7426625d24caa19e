//! The real libc functions, found with `dlsym(RTLD_NEXT)`.
