# Cross toolchain for arm-linux-gnueabihf: Debian's cross compiler and multiarch libraries
# (libseccomp-dev:<arch>, libcpputest-dev:<arch>). Binaries are static, so qemu-user runs the
# unit tests without a sysroot.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
set(CMAKE_LIBRARY_ARCHITECTURE arm-linux-gnueabihf)
set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/qemu-arm-static)
# Libraries resolve through CMAKE_LIBRARY_ARCHITECTURE to /usr/lib/<triplet> only, never to
# the host's multiarch directory; headers are shared by every architecture in /usr/include.
