/* crc32c.h — CRC-32C (Castagnoli), the checksum of every block and record
 * the store writes (FORMAT.md). Hardware SSE4.2 when the CPU has it, a table
 * otherwise; both give the same value (RFC 3720 polynomial, reflected,
 * init/xorout 0xffffffff), so files move between machines. */
#ifndef STORAGE_CRC32C_H
#define STORAGE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of buf[0..len). crc32c("123456789") == 0xe3069283. */
uint32_t st_crc32c(const void *buf, size_t len);

/* Continue a CRC: st_crc32c_update(st_crc32c(a), b) == st_crc32c(a || b). */
uint32_t st_crc32c_update(uint32_t crc, const void *buf, size_t len);

#endif
