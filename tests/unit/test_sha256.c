/* test_sha256.c - the cache's hash against the FIPS 180-4 example vectors. */
#include "check.h"
#include "runtime/internal.h"

static void hex(const uint8_t d[32], char out[65]) {
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int main(void) {
    struct { const char *in; const char *want; } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (int i = 0; i < 3; i++) {
        cl16_sha256 s;
        uint8_t d[32];
        char h[65];
        cl16_sha256_init(&s);
        cl16_sha256_update(&s, v[i].in, strlen(v[i].in));
        cl16_sha256_final(&s, d);
        hex(d, h);
        CHECK_MSG(!strcmp(h, v[i].want), "sha256('%s') = %s", v[i].in, h);
    }
    /* One million 'a', fed in uneven pieces. */
    cl16_sha256 s;
    uint8_t d[32];
    char h[65], buf[997];
    memset(buf, 'a', sizeof buf);
    cl16_sha256_init(&s);
    size_t left = 1000000;
    while (left) {
        size_t take = left < sizeof buf ? left : sizeof buf;
        cl16_sha256_update(&s, buf, take);
        left -= take;
    }
    cl16_sha256_final(&s, d);
    hex(d, h);
    CHECK(!strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    return check_done("test_sha256");
}
