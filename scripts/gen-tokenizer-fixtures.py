#!/usr/bin/env python3
"""Regenerates Tests/NodeKitTests/Fixtures/tokenizers/*.json with Hugging Face `tokenizers` (PyPI 0.23.3):
small tokenizers trained here with each pre-tokenizer the engine implements (GPT-2, llama-bpe (Llama 3),
qwen2, and SentencePiece-style BPE with byte fallback), saved as tokenizer.json, plus the ids the library
gives for a set of probe strings. The Swift tokenizer must load each tokenizer.json and give the same ids.

    python3 -m venv /tmp/tk && /tmp/tk/bin/pip install tokenizers==0.23.3
    /tmp/tk/bin/python scripts/gen-tokenizer-fixtures.py Tests/NodeKitTests/Fixtures/tokenizers
"""
import json
import os
import sys

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN2 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

CORPUS = [
    "The quick brown fox jumps over the lazy dog. It's 2026, and we'll see 12345 tokens!",
    "Hello, world!\n\nThis is a test:\tTABS and  double  spaces; numbers 3.14159 and 1,000,000.",
    "Ünïcödé tëxt: naïve café, Straße, Ελληνικά, русский текст, 日本語のテキスト, 中文文本, 한국어.",
    "def main():\n    print('hi')\n    return 42\r\n\r\n# comment\n",
    "I'M SURE THEY'RE HERE; YOU'VE SEEN IT, HAVEN'T YOU? She'd go, he'll stay.",
    "Emoji 🙂🚀 and symbols ©®™ ±×÷ → ← “quotes” ‘single’ — dashes… ellipsis",
] * 20

PROBES = [
    "Hello world",
    " leading space and trailing space ",
    "It's 2026; they'RE here, I'LL go. HE'D",
    "numbers 1 12 123 1234 12345 3.14159 1,000,000 ٣٤٥ ²³",
    "new\nlines\r\n\r\nand\n\n\nmore\t\ttabs  \n  mixed   whitespace    ",
    "Ünïcödé naïve café Straße Ελληνικά русский 日本語 中文 한국어",
    "emoji 🙂🚀 ©®™ → “quotes” — …",
    "code:\n    x = foo(bar, 42)  # note\n\treturn x\n",
    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "punctuation!!! ??? ... ,,, ;;; ::: ((())) [[]] {{}}",
    "",
    " ",
    "\n",
    "a",
    "unknown ☃ snowman and ⌘ key",
]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def byte_level(pattern):
    tok = Tokenizer(models.BPE())
    if pattern is None:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def sentencepiece():
    # Llama/Mistral style: spaces become ▁ (one prepended at the start), whole text merged by rank, characters
    # outside the vocabulary fall back to <0xXX> byte tokens.
    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    byte_tokens = ["<0x%02X>" % b for b in range(256)]
    trainer = trainers.BpeTrainer(vocab_size=900, special_tokens=["<unk>", "<s>", "</s>"] + SPECIALS + byte_tokens,
                                  show_progress=False, limit_alphabet=120)
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def main(out):
    os.makedirs(out, exist_ok=True)
    flavours = {"gpt2": byte_level(None), "llama-bpe": byte_level(LLAMA3), "qwen2": byte_level(QWEN2), "spm": sentencepiece()}
    for name, tok in flavours.items():
        cases = []
        for text in PROBES:
            ids = tok.encode(text, add_special_tokens=False).ids
            cases.append({"text": text, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)})
        doc = {"about": "scripts/gen-tokenizer-fixtures.py, tokenizers 0.23.3: %s" % name, "tokenizer": json.loads(tok.to_str()), "cases": cases}
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(doc, f, ensure_ascii=False, indent=None, separators=(",", ":"))
            f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
