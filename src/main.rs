//! The `secretfd` binary: installs the wiping allocator and runs the library.

#[global_allocator]
static ALLOCATOR: secretfd::sys::alloc::WipingAllocator = secretfd::sys::alloc::WipingAllocator;

fn main() {
    std::process::exit(secretfd::main());
}
