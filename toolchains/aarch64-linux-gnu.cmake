# Cross toolchain for aarch64-linux-gnu: Debian's cross compiler and multiarch libraries
# (libseccomp-dev:<arch>, libcpputest-dev:<arch>). Binaries are static, so qemu-user runs the
# unit tests without a sysroot.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/qemu-aarch64-static)
# Libraries resolve through CMAKE_LIBRARY_ARCHITECTURE to /usr/lib/<triplet> only, never to
# the host's multiarch directory; headers are shared by every architecture in /usr/include.
