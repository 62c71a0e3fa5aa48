# rekeyctl.bash: bash completion for rekeyctl (installed by `make install` into
# share/bash-completion/completions/rekeyctl): commands, subcommands, flags, and files after -f.
_rekeyctl() {
	local cur prev cmd
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	cmd=${COMP_WORDS[1]}
	local commands="plan rotate resume abort rollback break-glass fleet due doctor history status rewrite config keygen verify kube version"
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
		return
	fi
	case $prev in
	-f | --file | --kubeconfig | --metrics-file | --snapshot | --out | --config | --cacert | --cert | --key-file)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--state | --metrics-dir)
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	-o | --output)
		COMPREPLY=($(compgen -W "json table" -- "$cur"))
		return
		;;
	--provider)
		COMPREPLY=($(compgen -W "aescbc aesgcm secretbox kms identity" -- "$cur"))
		return
		;;
	esac
	local words
	case $cmd in
	plan | abort | rollback) words="-f --state --ignore-window --insecure-skip-tls-verify -o --help" ;;
	rotate | resume) words="-f --state --ignore-window --insecure-skip-tls-verify --metrics-file -o --help" ;;
	break-glass) words="-f --reason --state --ignore-window --insecure-skip-tls-verify --metrics-file -o --help" ;;
	fleet)
		if [ "$COMP_CWORD" -eq 2 ]; then
			words="rotate resume status --help"
		else
			words="-f --state --fleet --run --metrics-dir --ignore-window --insecure-skip-tls-verify -o --help"
		fi
		;;
	due) words="-f --max-age --state -o --help" ;;
	doctor) words="-f -o --kms-socket --window --timeout --insecure-skip-tls-verify --help" ;;
	history) words="--cluster --state -o --help" ;;
	status) words="--cluster -f --run --state -o --watch --interval --help" ;;
	rewrite) words="--kubeconfig --context --resource --namespace --qps --burst --concurrency --page-size
		--batch-size --batch-pause --budget-p99 --budget-errors --budget-window --soak --budget-inflight
		--on-breach --resume --state --cluster --scrape-interval --metrics-file --endpoint -o --help" ;;
	config)
		if [ "$COMP_CWORD" -eq 2 ]; then
			words="validate show hash add-key promote prune --help"
		else
			COMPREPLY=($(compgen -W "--provider --resources --key --key-file --bytes --dry-run --all-but-identity
				--automatic-reload -o --help" -- "$cur") $(compgen -f -- "$cur"))
			return
		fi
		;;
	keygen) words="--provider --bytes --out -o --help" ;;
	verify) words="--etcd --cacert --cert --key --etcd-api --snapshot --prefix --resource --config --expect
		--forbid -o --limit --page-size --state --cluster --help" ;;
	kube)
		words="config get list raw resource readyz metrics repeat lease --kubeconfig --context
			--insecure-skip-tls-verify --endpoint --limit -v --debug --help"
		;;
	version) words="--help" ;;
	esac
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _rekeyctl rekeyctl
