# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mailduty_global_optspecs
    string join \n rules= as= v/verbose q/quiet h/help V/version
end

function __fish_mailduty_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mailduty_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mailduty_using_subcommand
    set -l cmd (__fish_mailduty_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mailduty -n "__fish_mailduty_needs_command" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_needs_command" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_needs_command" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_needs_command" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailduty -n "__fish_mailduty_needs_command" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "init" -d 'Create the status folders on the server and show what it supports'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "login" -d 'Sign in with OAuth 2.0 (Microsoft 365, Google Workspace) and keep the token here'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "watch" -d 'Run `rotate --apply` within seconds of new mail, as a long-running service'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "access" -d 'Show who may do what in the shared mailbox, and what `init` would change'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "logout" -d 'Forget this machine\'s sign-in: the OAuth 2.0 token file, or the personal login.yaml'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "check" -d 'Validate the rules file without connecting to the server'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "list" -d 'Show the queue: ID, status, owner, age, sender and subject'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "claim" -d 'Take messages: unclaimed (or held) → 対応中/<me>'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "release" -d 'Give messages back: 対応中/<me> (or 保留) → 未対応'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "done" -d 'Finish messages: from any status (対応中, 未対応, 保留, 対応不要) → 完了'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "hold" -d 'Put messages on hold (保留): waiting on the customer or on someone'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "dismiss" -d 'Mark messages as needing no reply (対応不要): spam, notices, thanks-only mail'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "rotate" -d 'Show who is on duty, or apply the roster to the mailbox (for cron)'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "report" -d 'The daily digest: overdue mail, stale claims, counts, duty, response times'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "notify" -d 'Send chat notifications (Slack, Teams, Chatwork, webhook) that are pending'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "show" -d 'Show one message: headers, text body, status, owner and history'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "history" -d 'The history of one message, or of everything since a date'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "note" -d 'Add an internal note (申し送り) to a message, kept in the history folder'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "archive" -d 'Move old 完了 mail (and, if configured, old history) into per-year folders'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "completions" -d 'Print a shell completion script (commands and flags)'
complete -c mailduty -n "__fish_mailduty_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailduty -n "__fish_mailduty_using_subcommand init" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand init" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand init" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand init" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailduty -n "__fish_mailduty_using_subcommand init" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand login" -l login -d 'With sign_in: personal, the login to sign in as (asked when not given)' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand login" -l password-command -d 'With sign_in: personal, a command that prints your password (else it is asked for, not echoed, and kept in a 0600 file)' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand login" -l password-env -d 'With sign_in: personal, an environment variable holding your password' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand login" -l password-file -d 'With sign_in: personal, a file holding your password' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand login" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand login" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand login" -l smtp -d 'The digest\'s SMTP sign-in (digest.smtp.oauth2) instead of the IMAP one'
complete -c mailduty -n "__fish_mailduty_using_subcommand login" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand login" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand login" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailduty -n "__fish_mailduty_using_subcommand login" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand watch" -l every -d 'How often to run for what depends on the clock, news or not (10s or more)' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand watch" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand watch" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand watch" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand watch" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand watch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailduty -n "__fish_mailduty_using_subcommand watch" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand access" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand access" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand access" -l json -d 'JSON instead of lines'
complete -c mailduty -n "__fish_mailduty_using_subcommand access" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand access" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand access" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailduty -n "__fish_mailduty_using_subcommand access" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand logout" -l login -d 'With sign_in: personal, the login to sign in as (asked when not given)' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand logout" -l password-command -d 'With sign_in: personal, a command that prints your password (else it is asked for, not echoed, and kept in a 0600 file)' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand logout" -l password-env -d 'With sign_in: personal, an environment variable holding your password' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand logout" -l password-file -d 'With sign_in: personal, a file holding your password' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand logout" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand logout" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand logout" -l smtp -d 'The digest\'s SMTP sign-in (digest.smtp.oauth2) instead of the IMAP one'
complete -c mailduty -n "__fish_mailduty_using_subcommand logout" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand logout" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand logout" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailduty -n "__fish_mailduty_using_subcommand logout" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand check" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand check" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand check" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand check" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailduty -n "__fish_mailduty_using_subcommand check" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand list" -l status -d 'Which messages to show' -r -f -a "active\t'Unclaimed, claimed and held'
unclaimed\t''
claimed\t''
held\t'保留: waiting on the customer or on someone'
done\t''
dismissed\t'対応不要: needs no reply'
all\t'Everything, 完了 and 対応不要 included'"
complete -c mailduty -n "__fish_mailduty_using_subcommand list" -l owner -d 'Only messages claimed by this member' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand list" -l format -d 'Output format' -r -f -a "table\t''
json\t''
tsv\t''
ids\t'One ID a line, for xargs or `claim -`'"
complete -c mailduty -n "__fish_mailduty_using_subcommand list" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand list" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand list" -l mine -d 'Only messages claimed by me'
complete -c mailduty -n "__fish_mailduty_using_subcommand list" -l overdue -d 'Only unclaimed messages older than sla.unclaimed (never held, dismissed or automated mail)'
complete -c mailduty -n "__fish_mailduty_using_subcommand list" -l double -d 'Only messages two or more people replied to (二重対応)'
complete -c mailduty -n "__fish_mailduty_using_subcommand list" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand list" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailduty -n "__fish_mailduty_using_subcommand list" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand claim" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand claim" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand claim" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand claim" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand claim" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailduty -n "__fish_mailduty_using_subcommand claim" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand release" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand release" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand release" -l force -d 'Act even on a message claimed by someone else'
complete -c mailduty -n "__fish_mailduty_using_subcommand release" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand release" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand release" -s h -l help -d 'Print help'
complete -c mailduty -n "__fish_mailduty_using_subcommand release" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand done" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand done" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand done" -l force -d 'Act even on a message claimed by someone else'
complete -c mailduty -n "__fish_mailduty_using_subcommand done" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand done" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand done" -s h -l help -d 'Print help'
complete -c mailduty -n "__fish_mailduty_using_subcommand done" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand hold" -l until -d 'When it comes back: 2026-12-10, "2026-12-10 14:00", RFC 3339, or business time (3d, 4h)' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand hold" -l note -d 'Why it waits, kept in the history' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand hold" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand hold" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand hold" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand hold" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand hold" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailduty -n "__fish_mailduty_using_subcommand hold" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand dismiss" -l note -d 'Why it needs no reply, kept in the history and shown by `list --status dismissed`' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand dismiss" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand dismiss" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand dismiss" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand dismiss" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand dismiss" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailduty -n "__fish_mailduty_using_subcommand dismiss" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand rotate" -l date -d 'The day to show instead of today (YYYY-MM-DD, in the rules\' time zone)' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand rotate" -l days -d 'Show this many days from the date on' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand rotate" -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c mailduty -n "__fish_mailduty_using_subcommand rotate" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand rotate" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand rotate" -l apply -d 'File inbox mail and hand out unclaimed mail as the rules say'
complete -c mailduty -n "__fish_mailduty_using_subcommand rotate" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand rotate" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand rotate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailduty -n "__fish_mailduty_using_subcommand rotate" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand report" -l format -d 'Output format (without --send)' -r -f -a "table\t''
json\t''"
complete -c mailduty -n "__fish_mailduty_using_subcommand report" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand report" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand report" -l send -d 'Mail the digest instead of printing it'
complete -c mailduty -n "__fish_mailduty_using_subcommand report" -l force -d 'Send even if today\'s digest was already sent, today is a holiday, or nothing is overdue'
complete -c mailduty -n "__fish_mailduty_using_subcommand report" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand report" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand report" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailduty -n "__fish_mailduty_using_subcommand report" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand notify" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand notify" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand notify" -l test -d 'Send one test message to every target and say which worked'
complete -c mailduty -n "__fish_mailduty_using_subcommand notify" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand notify" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand notify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailduty -n "__fish_mailduty_using_subcommand notify" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand show" -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c mailduty -n "__fish_mailduty_using_subcommand show" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand show" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand show" -l all -d 'Look in the archive folders too (and show archived history events)'
complete -c mailduty -n "__fish_mailduty_using_subcommand show" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand show" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailduty -n "__fish_mailduty_using_subcommand show" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand history" -l since -d 'Events on or after this day (YYYY-MM-DD, in the rules\' time zone)' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand history" -l actor -d 'Only events by this member (or "rotate" for the roster\'s moves)' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand history" -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c mailduty -n "__fish_mailduty_using_subcommand history" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand history" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand history" -l all -d 'Look in the archive folders too: archived mail and archived events'
complete -c mailduty -n "__fish_mailduty_using_subcommand history" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand history" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand history" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailduty -n "__fish_mailduty_using_subcommand history" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand note" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand note" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand note" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand note" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand note" -s h -l help -d 'Print help'
complete -c mailduty -n "__fish_mailduty_using_subcommand note" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand archive" -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c mailduty -n "__fish_mailduty_using_subcommand archive" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand archive" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand archive" -l dry-run -d 'Print what would move, move nothing'
complete -c mailduty -n "__fish_mailduty_using_subcommand archive" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand archive" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand archive" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailduty -n "__fish_mailduty_using_subcommand archive" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand completions" -l rules -d 'The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]' -r -F
complete -c mailduty -n "__fish_mailduty_using_subcommand completions" -l as -d 'Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]' -r
complete -c mailduty -n "__fish_mailduty_using_subcommand completions" -s v -l verbose -d 'Print the IMAP commands sent and received, and each notification\'s host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)'
complete -c mailduty -n "__fish_mailduty_using_subcommand completions" -s q -l quiet -d 'Print nothing on success'
complete -c mailduty -n "__fish_mailduty_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailduty -n "__fish_mailduty_using_subcommand completions" -s V -l version -d 'Print version'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "init" -d 'Create the status folders on the server and show what it supports'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "login" -d 'Sign in with OAuth 2.0 (Microsoft 365, Google Workspace) and keep the token here'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "watch" -d 'Run `rotate --apply` within seconds of new mail, as a long-running service'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "access" -d 'Show who may do what in the shared mailbox, and what `init` would change'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "logout" -d 'Forget this machine\'s sign-in: the OAuth 2.0 token file, or the personal login.yaml'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "check" -d 'Validate the rules file without connecting to the server'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "list" -d 'Show the queue: ID, status, owner, age, sender and subject'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "claim" -d 'Take messages: unclaimed (or held) → 対応中/<me>'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "release" -d 'Give messages back: 対応中/<me> (or 保留) → 未対応'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "done" -d 'Finish messages: from any status (対応中, 未対応, 保留, 対応不要) → 完了'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "hold" -d 'Put messages on hold (保留): waiting on the customer or on someone'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "dismiss" -d 'Mark messages as needing no reply (対応不要): spam, notices, thanks-only mail'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "rotate" -d 'Show who is on duty, or apply the roster to the mailbox (for cron)'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "report" -d 'The daily digest: overdue mail, stale claims, counts, duty, response times'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "notify" -d 'Send chat notifications (Slack, Teams, Chatwork, webhook) that are pending'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "show" -d 'Show one message: headers, text body, status, owner and history'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "history" -d 'The history of one message, or of everything since a date'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "note" -d 'Add an internal note (申し送り) to a message, kept in the history folder'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "archive" -d 'Move old 完了 mail (and, if configured, old history) into per-year folders'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "completions" -d 'Print a shell completion script (commands and flags)'
complete -c mailduty -n "__fish_mailduty_using_subcommand help; and not __fish_seen_subcommand_from init login watch access logout check list claim release done hold dismiss rotate report notify show history note archive completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
