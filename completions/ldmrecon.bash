# bash completion for ldmrecon. Options come from `ldmrecon [COMMAND] --help` itself (it starts in
# milliseconds), so they never drift from the binary; values for the options that take names.
_ldmrecon() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd="" w
    local commands="metrics pitch mel info report encode decode ablate bench compile"
    for w in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
        case " $commands " in *" $w "*) cmd=$w; break ;; esac
    done
    case $prev in
        --device) COMPREPLY=($(compgen -W "auto cpu cuda cuda:0 cuda:1" -- "$cur")); return ;;
        --dtype) COMPREPLY=($(compgen -W "fp32 fp16 bf16 int8" -- "$cur")); return ;;
        --backend) COMPREPLY=($(compgen -W "auto torchscript compiled" -- "$cur")); return ;;
        --stage) COMPREPLY=($(compgen -W "full vae vocoder" -- "$cur")); return ;;
        --vocoder) COMPREPLY=($(compgen -W "hifigan griffin-lim" -- "$cur")); return ;;
        --format) COMPREPLY=($(compgen -W "pcm16 pcm24 float" -- "$cur")); return ;;
        --output-format) COMPREPLY=($(compgen -W "wav flac ogg opus aiff caf w64 rf64 au mp3" -- "$cur")); return ;;
        --mel-scale) COMPREPLY=($(compgen -W "ln db db-percentile db-zscore db-tanh" -- "$cur")); return ;;
        --metrics)
            local names="all none sample aligned spectral mel mrstft stoi pitch vae pesq crepe distillmos dnsmos visqol visqol_audio"
            names+=" $("${COMP_WORDS[0]}" metrics --list 2>/dev/null | awk 'NR > 1 && NF > 3 {print $1}')"
            local done_part="" last=$cur
            [[ $cur == *,* ]] && done_part=${cur%,*}, last=${cur##*,}
            COMPREPLY=($(compgen -P "$done_part" -W "$names" -- "$last")); compopt -o nospace 2>/dev/null; return ;;
        --models|--out-dir|--dump-dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    esac
    if [[ $cur == -* ]]; then
        local sub=$cmd
        [ "$cmd" = report ] && sub="report merge"
        local opts
        opts=$("${COMP_WORDS[0]}" $sub --help 2>/dev/null | grep -oE -- '^ +(-[a-zA-Z],)?--?[a-zA-Z][a-zA-Z0-9-]*' |
               sed -E 's/^ +//; s/,/ /' | tr ' ' '\n' | sort -u)
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [ -z "$cmd" ] && [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "$commands" -- "$cur") $(compgen -f -- "$cur"))
    elif [ "$cmd" = report ] && [ "$prev" = report ]; then
        COMPREPLY=($(compgen -W "merge" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -o filenames -F _ldmrecon ldmrecon
