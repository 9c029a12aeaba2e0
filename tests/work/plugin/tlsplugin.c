/* SPDX-License-Identifier: MIT */
/* A plugin with dynamic TLS (general-dynamic model): each thread's block is
 * allocated by the dynamic loader at the thread's first access, through malloc. */
__thread char tls_block[64 << 10];

int tls_touch(void) {
    int s = 0;
    for (unsigned i = 0; i < sizeof tls_block; i += 4096) {
        tls_block[i] = (char)i;
        s += tls_block[i];
    }
    return s;
}
