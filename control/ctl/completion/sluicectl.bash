# bash completion for sluicectl (installed as share/bash-completion/completions/sluicectl)
_sluicectl() {
  local cur prev words cword
  _init_completion 2>/dev/null || {
    cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}
    words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
  }
  case $prev in
    -o|--output) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
    --mode) COMPREPLY=($(compgen -W "dsr ipip" -- "$cur")); return ;;
    --socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --weight|--limit|-w|--watch|--vip|--iface) return ;;
  esac
  # The command words typed so far, options and their values left out.
  local cmd="" sub="" i w
  for ((i = 1; i < cword; i++)); do
    w=${words[i]}
    case $w in
      --socket|-o|--output|--mode|--weight|--limit|--vip|--iface|-w|--watch) ((i++)) ;;
      -*) ;;
      *) if [[ -z $cmd ]]; then cmd=$w; elif [[ -z $sub ]]; then sub=$w; fi ;;
    esac
  done
  local opts="-o --output -h --help"
  case $cmd in
    "") COMPREPLY=($(compgen -W "status vip backend acl stats conns vrrp reload detach backend-setup --socket --version -h --help" -- "$cur")) ;;
    vip)
      case $sub in
        "") COMPREPLY=($(compgen -W "list add del -h --help" -- "$cur")) ;;
        add) COMPREPLY=($(compgen -W "--mode $opts" -- "$cur")) ;;
        *) COMPREPLY=($(compgen -W "$opts" -- "$cur")) ;;
      esac ;;
    backend)
      case $sub in
        "") COMPREPLY=($(compgen -W "list add del set drain undrain -h --help" -- "$cur")) ;;
        add) COMPREPLY=($(compgen -W "--weight --backup $opts" -- "$cur")) ;;
        set) COMPREPLY=($(compgen -W "--weight $opts" -- "$cur")) ;;
        *) COMPREPLY=($(compgen -W "$opts" -- "$cur")) ;;
      esac ;;
    acl)
      case $sub in
        "") COMPREPLY=($(compgen -W "list add del -h --help" -- "$cur")) ;;
        add|del)
          # The action first, then the prefix (not completed).
          local n=0
          for ((i = 1; i < cword; i++)); do [[ ${words[i]} == allow || ${words[i]} == deny ]] && n=1; done
          if ((n)); then COMPREPLY=($(compgen -W "--vip $opts" -- "$cur"))
          else COMPREPLY=($(compgen -W "allow deny --vip $opts" -- "$cur")); fi ;;
        *) COMPREPLY=($(compgen -W "$opts" -- "$cur")) ;;
      esac ;;
    stats) COMPREPLY=($(compgen -W "-w --watch $opts" -- "$cur")) ;;
    conns) COMPREPLY=($(compgen -W "--vip --limit $opts" -- "$cur")) ;;
    backend-setup) COMPREPLY=($(compgen -W "--vip --mode --iface --generic --undo -h --help" -- "$cur")) ;;
    *) COMPREPLY=($(compgen -W "$opts" -- "$cur")) ;;
  esac
}
complete -F _sluicectl sluicectl
