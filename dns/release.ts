// The synrc/ns release this project builds (dns/release/build-synrc-ns.sh) and the infra VMs run:
// its facts in one place, as measured on the build the stacks pin.

export const NS_RELEASE = {
    /** The rebar3 release's name and version (synrc/ns rebar.config, `{release, {erldns, "3.0.0"}, ...}`). */
    name: "erldns",
    version: "3.0.0",
    /** The application that serves DNS (src/ns.app.src) and reads the sys.config's `ns` section. */
    application: "ns",
    /** Built with Debian 12's erlang (OTP 25, erts 13.1.5), which the release carries with it. */
    otp: "25",
    erts: "13.1.5",
    /**
     * What the release's own ERTS needs of the VM, from `objdump -T` and `ldd` over its ELF files:
     * glibc symbols up to 2.34, libstdc++ up to GLIBCXX_3.4.29, OpenSSL 3.0's libcrypto.so.3, and
     * libtinfo.so.6, libz.so.1, libgcc_s.so.1 and libsystemd.so.0 (Debian's epmd). Ubuntu 24.04 has
     * glibc 2.39, GCC 14's libstdc++ (GLIBCXX_3.4.33), OpenSSL 3.0.13 and all of these in its base
     * system (test/tools/dns/synrcNs.test.ts checks the built release against that).
     */
    needs: {
        glibc: "2.34",
        glibcxx: "3.4.29",
        libraries: ["libc.so.6", "libcrypto.so.3", "libgcc_s.so.1", "libm.so.6", "libstdc++.so.6", "libsystemd.so.0", "libtinfo.so.6", "libz.so.1"],
    },
    /**
     * Resident memory of the server at start-up with the production zone (`ps -o rss` and the
     * unit's cgroup peak, 2 schedulers): 97-102 MiB; the unit's MemoryHigh stays 1.5 times above it.
     */
    startPeakMiB: 102,
} as const;

/** The tarball's file name, as the recipe writes it and dns.nsArtifact.url ends. */
export const NS_TARBALL = `${NS_RELEASE.name}-${NS_RELEASE.version}.tar.gz`;

/** The smallest dns.memoryMaxMiB whose MemoryHigh (3/4 of it) is 1.5 times the start-up peak. */
export const NS_MEMORY_MAX_MIN_MIB = Math.ceil((NS_RELEASE.startPeakMiB * 1.5) / 0.75 / 16) * 16;
