#!/bin/sh
# 12_install.sh: `make install` into a DESTDIR puts the binary, the manual page, bash and zsh completion
# and the docs in place; the manual renders without warnings and names every command; bash completion
# completes commands, subcommands and flag values; zsh registers its completion function and completes a
# command and a subcommand in a pseudo-terminal (zpty); every
# command, `version` included, answers --help on stdout with exit 0.
. tests/e2e/lib.sh
ROOT=$E2E_TMP/root
# as a user runs it: not with the variables of a `make check` this may run under (SAN=1, BUILD=build/asan)
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SAN -u FAILPOINTS -u CFLAGS -u BUILD \
	make install DESTDIR="$ROOT" PREFIX=/usr >"$E2E_TMP/make.log" 2>&1; then
	ok make_install
else
	not_ok make_install "$(tail -n 5 "$E2E_TMP/make.log")"
	e2e_done
fi
for f in bin/rekeyctl:755 share/man/man1/rekeyctl.1:644 share/bash-completion/completions/rekeyctl:644 \
	share/zsh/site-functions/_rekeyctl:644 share/doc/rekeyctl/README.md:644; do
	path=$ROOT/usr/${f%%:*}
	[ -f "$path" ] && [ "$(stat -c %a "$path")" = "${f##*:}" ] && ok "installed_${f%%:*}" ||
		not_ok "installed_${f%%:*}" "$(ls -l "$path" 2>&1)"
done
BIN=$ROOT/usr/bin/rekeyctl
"$BIN" --version | grep -Eq '^rekeyctl [0-9]+\.[0-9]+\.[0-9]+$' && ok installed_binary_runs || not_ok installed_binary_runs "$("$BIN" --version 2>&1)"

# ---- the manual ----
MANWIDTH=100 man --warnings -l "$ROOT/usr/share/man/man1/rekeyctl.1" >"$E2E_TMP/man.txt" 2>"$E2E_TMP/man.err"
[ $? = 0 ] && [ ! -s "$E2E_TMP/man.err" ] && ok man_renders_without_warnings || not_ok man_renders_without_warnings "$(head -c 300 "$E2E_TMP/man.err")"
expect_grep man_has_exit_status '^EXIT STATUS' "$E2E_TMP/man.txt"
commands=$("$BIN" --help | sed -n 's/^  \([a-z-]*\) .*/\1/p')
[ "$(echo "$commands" | wc -l)" -ge 15 ] && ok help_lists_commands || not_ok help_lists_commands "$commands"
missing_man="" missing_bash="" no_help=""
for c in $commands; do
	grep -Eq "^   $c( |$)" "$E2E_TMP/man.txt" || missing_man="$missing_man $c"
	grep -q "^	local commands=\".*\\b$c\\b" "$ROOT/usr/share/bash-completion/completions/rekeyctl" || missing_bash="$missing_bash $c"
	"$BIN" "$c" --help >"$E2E_TMP/help.out" 2>"$E2E_TMP/help.err" && grep -q "rekeyctl $c" "$E2E_TMP/help.out" &&
		[ ! -s "$E2E_TMP/help.err" ] ||
		no_help="$no_help $c"
done
[ -z "$missing_man" ] && ok man_names_every_command || not_ok man_names_every_command "missing:$missing_man"
[ -z "$missing_bash" ] && ok bash_completion_knows_every_command || not_ok bash_completion_knows_every_command "missing:$missing_bash"
[ -z "$no_help" ] && ok every_command_has_help || not_ok every_command_has_help "no usage naming it on stdout, exit 0:$no_help"
expect_exit version_extra_argument 2 "$BIN" version extra
expect_grep version_extra_argument_message 'unexpected argument "extra"' "$E2E_TMP/err"

# ---- bash completion: a fresh bash loads the installed file and completes ----
complete_words() { # LINE...: what bash completes for the words given (the last one being typed)
	bash --norc --noprofile -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _rekeyctl; echo "${COMPREPLY[*]}"' \
		sh "$ROOT/usr/share/bash-completion/completions/rekeyctl" "$@"
}
[ "$(complete_words rekeyctl ro)" = "rotate rollback" ] && ok bash_completes_command || not_ok bash_completes_command "$(complete_words rekeyctl ro)"
[ "$(complete_words rekeyctl fleet r)" = "rotate resume" ] && ok bash_completes_subcommand || not_ok bash_completes_subcommand "$(complete_words rekeyctl fleet r)"
[ "$(complete_words rekeyctl status --w)" = "--watch" ] && ok bash_completes_flag || not_ok bash_completes_flag "$(complete_words rekeyctl status --w)"
[ "$(complete_words rekeyctl plan -o "")" = "json table" ] && ok bash_completes_output || not_ok bash_completes_output "$(complete_words rekeyctl plan -o "")"
bash --norc --noprofile -c '. "$1"; complete -p rekeyctl' sh "$ROOT/usr/share/bash-completion/completions/rekeyctl" | grep -q -- '-F _rekeyctl rekeyctl' &&
	ok bash_registers_completion || not_ok bash_registers_completion "complete -p says otherwise"

# ---- zsh: the installed function parses and compinit registers it for rekeyctl ----
if command -v zsh >/dev/null; then
	zsh -n "$ROOT/usr/share/zsh/site-functions/_rekeyctl" && ok zsh_completion_parses || not_ok zsh_completion_parses "zsh -n failed"
	got=$(HOME=$E2E_TMP zsh -f -c 'fpath=("$1" $fpath); autoload -U compinit; compinit -u -D; print -r -- $_comps[rekeyctl]' \
		zsh "$ROOT/usr/share/zsh/site-functions" 2>&1)
	[ "$got" = _rekeyctl ] && ok zsh_registers_completion || not_ok zsh_registers_completion "$got"
	# an interactive zsh on a pseudo-terminal (zpty) gets LINE and a TAB; ok once WANT is on its screen
	cat >"$E2E_TMP/complete.zsh" <<'ZSH'
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1='> '; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D; print READY"
zpty -r z out '*READY*READY*' || exit 1
zpty -w -n z "$2"$'\t'
zpty -r z out "*$3*"
r=$?
zpty -d z
exit $r
ZSH
	zsh_completes() { # NAME LINE WANT
		HOME=$E2E_TMP timeout 20 zsh -f "$E2E_TMP/complete.zsh" "$ROOT/usr/share/zsh/site-functions" "$2" "$3" >/dev/null 2>&1 &&
			ok "$1" || not_ok "$1" "\"$2<TAB>\" never showed \"$3\""
	}
	zsh_completes zsh_completes_command 'rekeyctl doc' 'rekeyctl doctor'
	zsh_completes zsh_completes_subcommand 'rekeyctl fleet st' 'fleet status'
else
	not_ok zsh_installed "zsh is missing (make deps installs it)"
fi
e2e_done
