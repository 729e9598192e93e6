/* tokenizer: a cheap, deterministic approximation of Llama-3's token counts.
 *
 * Llama-3 pre-splits text the way tiktoken's cl100k pattern does, then runs
 * BPE over each piece. We count pieces with the same rules and charge long
 * pieces more, without a vocabulary: a word with its leading space (" Hi") is
 * one token, digits go in groups of three, punctuation runs and newline runs
 * are tokens of their own. The tutorial's prompt "Prompt 0 with dummy text " +
 * "Hi " * 3000 + "how are you?" counts 3,010 tokens plus BOS, as on vLLM. */
#ifndef EBB_ENGINE_TOKENIZER_H
#define EBB_ENGINE_TOKENIZER_H

#include <stddef.h>

/* Number of tokens in len bytes of UTF-8 text, with no special tokens. */
size_t tok_count(const char *text, size_t len);

/* Tokens Llama-3.1's chat template adds around a conversation: the
 * <|begin_of_text|> and default system header, and per message the
 * header tokens and <|eot_id|>, plus the assistant header at the end.
 * Message contents are counted separately with tok_count. */
size_t tok_chat_overhead(size_t nmessages, int has_system_message);

#endif
