export { SPECIAL_TOKENS, TextTokenizer, TokenizerError, type EncodedBatch } from './tokenizer.ts';
