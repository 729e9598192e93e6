/* http_drive: feeds fuzz input to struct http_parser the way the server does.
 *
 * Shared by the HTTP targets (requests, responses, the engine's request
 * path). Their inputs all start with the same two bytes, so one corpus
 * seeds the others:
 *
 *   byte 0  limits: bits 0-1 pick the head/body limits (see http_drive.c);
 *           the request-path target also reads bit 2
 *   byte 1  how the bytes arrive: 0 in one read, 0x01-0x7f reads of that
 *           many bytes, 0x80-0xff reads of 1-8 bytes in a pseudo-random
 *           pattern seeded by the byte
 *   rest    the bytes on the wire
 */
#ifndef EBB_TESTS_FUZZ_HTTP_DRIVE_H
#define EBB_TESTS_FUZZ_HTTP_DRIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/parser.h"

#define HTTP_DRIVE_PREFIX 2 /* bytes before the wire bytes */

/* Called for each complete message, before http_parser_next. */
typedef void (*http_drive_cb)(struct http_parser *p, void *ud);

/* Parses the input (prefix included) as requests (is_response false) or
 * responses, checks each complete message's invariants and hands it to cb
 * (may be NULL). Like the server: every byte is fed exactly once, what
 * follows a complete message is fed after http_parser_next, a message that
 * does not keep the connection alive ends the input, an error ends it, and
 * at the end of input a message in progress gets http_parser_finish. Each
 * read is copied to its own heap block, freed right after the feed, so ASan
 * catches the parser keeping a pointer into it. */
void http_drive(const uint8_t *data, size_t size, bool is_response, http_drive_cb cb, void *ud);

#endif
