// PCRE2 (8-bit code units) from Debian's libpcre2-dev: APISIX's regular expressions are PCRE.
#ifndef SLUICE_CPCRE2_SHIM_H
#define SLUICE_CPCRE2_SHIM_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

// Macros and variadics the Clang importer cannot see, as functions.
static inline pcre2_code_8 *sluice_pcre2_compile(const unsigned char *pattern, size_t length, uint32_t options,
                                                 int *error, size_t *offset) {
    return pcre2_compile_8(pattern, length, options, error, offset, NULL);
}
static inline size_t sluice_pcre2_zero_terminated(void) { return PCRE2_ZERO_TERMINATED; }
#endif
