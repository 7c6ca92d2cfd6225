"""The circle's gallery: a grid of thumbnails, and each artwork with its witnesses."""

from __future__ import annotations

import streamlit as st

from gallery_store import REACTIONS, StudioError
from gallery_store.comments import COMMENT_LIMIT, EDIT_MINUTES, STARTERS
from gallery_store.models import Artwork
from gallery_store.text import escape_markdown, relative_time
from prompts import THEME_TITLES
from ui.context import Context
from ui.flash import flash
from ui.widgets import artwork_image, artwork_link, show_text, support_panel

PER_PAGE = 24
COLUMNS = 4
# The gallery's filters, by their name in the address and their widget's key. They live in
# the address, so opening an artwork and coming back, deleting one, a reload or the
# browser's Back button all find the gallery as the person left it.
FILTERS = {"mine": "gallery_mine", "theme": "gallery_theme", "prompt": "gallery_prompt"}


def render(ctx: Context) -> None:
    """Show the gallery, or one artwork when one is open."""
    if ctx.circle is None:
        st.title("Gallery")
        st.info("You're not in a circle yet. Ask your facilitator for an invite code.")
        return
    artwork_id = st.query_params.get("art")
    if artwork_id:
        # A link to one artwork: open it on its own page.
        st.switch_page(
            ctx.pages["artwork"], query_params={"art": artwork_id, **_filters_in_address()}
        )
    _grid(ctx)


def render_artwork(ctx: Context) -> None:
    """Show one artwork (``?art=<id>``) with its witnesses."""
    artwork_id = st.query_params.get("art")
    if ctx.circle is None or not artwork_id:
        st.title("Artwork")
        st.info("Choose an artwork in the gallery to see it here.")
        _back_to_gallery(ctx)
        return
    _artwork_view(ctx, artwork_id)


def _back_to_gallery(ctx: Context) -> None:
    if st.button("← Back to the gallery", key="back_to_gallery"):
        st.switch_page(ctx.pages["gallery"], query_params=_filters_in_address())


def _filters_in_address() -> dict[str, str]:
    """Return the gallery filters the address holds (an artwork's page carries them too)."""
    return {name: st.query_params[name] for name in FILTERS if st.query_params.get(name)}


def _keep_in_address(filters: dict[str, str | None]) -> None:
    for name, value in filters.items():
        if value:
            if st.query_params.get(name) != value:
                st.query_params[name] = value
        elif name in st.query_params:
            del st.query_params[name]


def _sensitive_choice(ctx: Context) -> str:
    return ctx.studio.artworks.sensitive_choice(ctx.user)


def _grid(ctx: Context) -> None:
    studio = ctx.studio
    st.title(f"{escape_markdown(ctx.circle.name)} gallery")
    past = studio.prompts.past(ctx.user, ctx.circle.id, days=28)
    prompt_titles = {None: "Any prompt"} | {p.prompt.id: p.prompt.title for p in past}
    address = _filters_in_address()
    # Only when the widgets are new (first visit, or back from another page): after that
    # they hold what the person chose.
    st.session_state.setdefault(FILTERS["mine"], address.get("mine") == "1")
    st.session_state.setdefault(
        FILTERS["theme"], address.get("theme") if address.get("theme") in THEME_TITLES else None
    )
    st.session_state.setdefault(
        FILTERS["prompt"], address.get("prompt") if address.get("prompt") in prompt_titles else None
    )
    # Folded away, so the art comes first, even on a phone.
    with st.expander("Filters and content warnings"):
        left, right = st.columns(2)
        mine = left.toggle("Only my art", key=FILTERS["mine"])
        theme = right.selectbox(
            "Theme",
            [None, *THEME_TITLES],
            format_func=lambda t: "All themes" if t is None else THEME_TITLES[t],
            key=FILTERS["theme"],
        )
        prompt_id = st.selectbox(
            "Prompt", list(prompt_titles), format_func=prompt_titles.get, key=FILTERS["prompt"]
        )
        choice = _sensitive_choice(ctx)
        labels = {"ask": "Blur it and ask me", "show": "Always show it", "hide": "Always hide it"}
        new_choice = st.selectbox(
            "Art with a content warning",
            list(labels),
            index=list(labels).index(choice),
            format_func=labels.get,
            key="gallery_sensitive",
        )
    if new_choice != choice:
        studio.artworks.set_sensitive_choice(ctx.user, new_choice)
        choice = new_choice
    showing = [
        *(["only your art"] if mine else []),
        *([THEME_TITLES[theme]] if theme else []),
        *([f"“{escape_markdown(prompt_titles[prompt_id])}”"] if prompt_id else []),
    ]
    if showing:
        st.caption("Showing " + " · ".join(showing))
    _keep_in_address({"mine": "1" if mine else None, "theme": theme, "prompt": prompt_id})
    filters = (mine, theme, prompt_id)
    if st.session_state.get("gallery_filters") != filters:
        st.session_state["gallery_filters"] = filters
        st.session_state["gallery_page"] = 1
    page_number = st.session_state.get("gallery_page", 1)
    page = studio.artworks.gallery(
        ctx.user,
        ctx.circle.id,
        page=page_number,
        per_page=PER_PAGE,
        theme=theme,
        mine=mine,
        prompt_id=prompt_id,
    )
    if not page:
        st.info("No art here yet. When someone shares, it will appear here — newest first.")
    query = _filters_in_address()
    for start in range(0, len(page), COLUMNS):
        for column, artwork in zip(
            st.columns(COLUMNS), page[start : start + COLUMNS], strict=False
        ):
            with column, st.container(border=True):
                _card(ctx, artwork, choice, query)
    previous, _, following = st.columns([1, 2, 1])
    if page_number > 1 and previous.button("← Newer", key="gallery_newer"):
        st.session_state["gallery_page"] = page_number - 1
        st.rerun()
    if page.has_next and following.button("Older →", key="gallery_older"):
        st.session_state["gallery_page"] = page_number + 1
        st.rerun()


def _revealed() -> set[str]:
    return st.session_state.setdefault("revealed_art", set())


def _card(ctx: Context, artwork: Artwork, choice: str, query: dict[str, str]) -> None:
    """One piece in the grid: its thumbnail is the link to its page."""
    warned = bool(artwork.content_warning)
    page = ctx.pages["artwork"]
    if warned and choice == "hide" and artwork.id not in _revealed():
        st.markdown(f"*Hidden: {escape_markdown(artwork.content_warning)}*")
        st.page_link(page, label="Open this artwork", query_params={"art": artwork.id, **query})
    elif warned and choice != "show" and artwork.id not in _revealed():
        artwork_link(
            page,
            artwork,
            "blur",
            query=query,
            note=f"Content warning: {artwork.content_warning}",
        )
        if st.button("Show this artwork", key=f"reveal_{artwork.id}"):
            _revealed().add(artwork.id)
            st.rerun()
    else:
        artwork_link(page, artwork, "thumb", query=query)
    st.markdown(f"**{escape_markdown(artwork.artist_name)}**")
    if artwork.status == "hidden":
        st.caption("Hidden from the circle while a facilitator takes a look.")
    if artwork.caption:
        show_text(artwork.caption[:140] + ("…" if len(artwork.caption) > 140 else ""), caption=True)


def _artwork_view(ctx: Context, artwork_id: str) -> None:
    studio = ctx.studio
    _back_to_gallery(ctx)
    try:
        artwork = studio.artworks.get(ctx.user, artwork_id)
    except StudioError as exc:
        st.info(exc.message)
        return
    is_artist = artwork.user_id == ctx.user.id
    st.title(f"By {escape_markdown(artwork.artist_name)}")
    choice = _sensitive_choice(ctx)
    if artwork.content_warning and choice != "show" and artwork_id not in _revealed():
        # The warning and the choice come first, and the blurred copy stays small, so both
        # are on the first screen of a phone or a laptop.
        st.warning(f"Content warning: {escape_markdown(artwork.content_warning)}")
        if st.button("Show this artwork", key=f"reveal_full_{artwork.id}"):
            _revealed().add(artwork.id)
            st.rerun()
        artwork_image(artwork, "blur", max_height="30vh")
    else:
        artwork_image(artwork, "full")
    if artwork.status == "hidden":
        st.info("This artwork is hidden from the circle while a facilitator takes a look.")
    show_text(artwork.caption)
    prompt = studio.prompts.find(artwork.prompt_id)
    when = relative_time(artwork.created_at, studio.now()) if artwork.created_at else ""
    st.caption(
        (f"In response to “{escape_markdown(prompt.title)}” · " if prompt else "")
        + f"Shared {when}"
    )
    _reactions(ctx, artwork, is_artist)
    _comments(ctx, artwork, is_artist)
    if is_artist:
        _artist_tools(ctx, artwork)
    else:
        _report(ctx, "artwork", artwork.id, "this artwork")


@st.fragment
def _reactions(ctx: Context, artwork: Artwork, is_artist: bool) -> None:
    studio = ctx.studio
    if is_artist:
        reacted = studio.reactions.for_artist(ctx.user, artwork.id)
        if any(reacted.values()):
            st.markdown("**Who witnessed your art**")
            for kind, names in reacted.items():
                if names:
                    st.markdown(
                        f"{REACTIONS[kind]}: " + ", ".join(escape_markdown(n) for n in names)
                    )
        else:
            st.caption("Reactions from your circle will show here — only you see who sent them.")
        return
    error_key = f"react_error_{artwork.id}"
    error = st.session_state.pop(error_key, None)
    if error:
        st.error(error)
    mine = studio.reactions.mine(ctx.user, artwork.id)
    columns = st.columns(len(REACTIONS))
    for column, (kind, label) in zip(columns, REACTIONS.items(), strict=True):
        chosen = kind in mine
        # A callback: the click's own run already shows the choice (no second run).
        column.button(
            ("✓ " if chosen else "") + label,
            key=f"react_{kind}_{artwork.id}",
            type="primary" if chosen else "secondary",
            on_click=_toggle_reaction,
            args=(ctx, artwork.id, kind, error_key),
        )
    st.caption("Only the artist sees who reacted. There are no counts here.")


def _toggle_reaction(ctx: Context, artwork_id: str, kind: str, error_key: str) -> None:
    try:
        ctx.studio.reactions.toggle(ctx.user, artwork_id, kind)
    except StudioError as exc:
        st.session_state[error_key] = exc.message


# A long thread shows its newest comments; "Show earlier comments" adds this many more.
COMMENT_WINDOW = 20


@st.fragment
def _comments(ctx: Context, artwork: Artwork, is_artist: bool) -> None:
    studio = ctx.studio
    st.subheader("Witnessing")
    shown_key = f"comments_shown_{artwork.id}"
    shown = st.session_state.get(shown_key, COMMENT_WINDOW)
    # One more than is shown, to know whether there are earlier ones.
    comments = studio.comments.for_artwork(ctx.user, artwork.id, newest=shown + 1)
    if len(comments) > shown:
        comments = comments[1:]
        st.button(
            "Show earlier comments",
            key=f"comments_earlier_{artwork.id}",
            type="tertiary",
            icon=":material/expand_less:",
            on_click=_show_more,
            args=(shown_key, shown + COMMENT_WINDOW),
        )
    if st.session_state.pop(f"report_thanks_{artwork.id}", False):
        st.success("Thank you. A facilitator will take a look; it's hidden for now.")
    if not comments:
        st.caption("No comments yet.")
    now = studio.now()
    for comment in comments:
        with st.container(border=True):
            when = relative_time(comment.created_at, now) if comment.created_at else ""
            st.markdown(
                f"**{escape_markdown(comment.author_name)}** · {when}"
                + (" · edited" if comment.edited_at else "")
            )
            if comment.status == "hidden":
                hint = "Hidden from the circle while a facilitator takes a look."
            elif comment.status == "held":
                hint = (
                    "Only you and your facilitator can see this for now — they'll read it "
                    "first and check in with you."
                    if comment.user_id == ctx.user.id
                    else "Held from the circle: the writer may need support. Close the care "
                    "flag to let it through."
                )
            else:
                hint = ""
            if comment.user_id == ctx.user.id:
                _own_comment(ctx, comment, hint)
            else:
                show_text(comment.text)
                if hint:
                    st.caption(hint)
                _report_comment(ctx, comment)
    if not artwork.comments_enabled:
        st.caption("The artist has turned comments off for this piece.")
        return
    _comment_form(ctx, artwork)


def _show_more(shown_key: str, count: int) -> None:
    st.session_state[shown_key] = count


def _comment_form(ctx: Context, artwork: Artwork) -> None:
    """The box for a new comment; posting happens in the click's own run (no second run)."""
    draft_key = f"draft_{artwork.id}"
    st.caption("Ways to begin:")
    starter_columns = st.columns(len(STARTERS))
    for column, starter in zip(starter_columns, STARTERS, strict=True):
        column.button(
            starter,
            key=f"starter_{artwork.id}_{starter}",
            on_click=_begin_with,
            args=(draft_key, starter),
        )
    text = st.text_area(
        "Your comment",
        key=draft_key,
        max_chars=COMMENT_LIMIT,
        placeholder="What do you notice? What does it stir in you?",
    )
    confirm_key = f"confirm_{artwork.id}"
    nudge = ctx.studio.comments.check_draft(text) if text else None
    post = (ctx, artwork.id, draft_key, confirm_key)
    if nudge and st.session_state.get(confirm_key) == text:
        st.warning(nudge.message)
        st.caption(f"You could try: {nudge.suggestion}")
        st.button("Post anyway", key=f"post_anyway_{artwork.id}", on_click=_post_comment, args=post)
    else:
        st.button(
            "Post comment",
            key=f"post_{artwork.id}",
            type="primary",
            on_click=_post_comment,
            args=post,
        )
    error = st.session_state.pop(f"post_error_{artwork.id}", None)
    if error:
        st.error(error)
    support = st.session_state.pop(f"support_{artwork.id}", None)
    if support is not None:
        support_panel(support)


def _begin_with(draft_key: str, starter: str) -> None:
    st.session_state[draft_key] = starter.rstrip("…") + " "


def _post_comment(ctx: Context, artwork_id: str, draft_key: str, confirm_key: str) -> None:
    """Post the draft, or hold it once for a gentle nudge (runs before the page is drawn)."""
    studio = ctx.studio
    text = st.session_state.get(draft_key) or ""
    nudge = studio.comments.check_draft(text) if text else None
    if nudge and st.session_state.get(confirm_key) != text:
        st.session_state[confirm_key] = text  # "Post anyway" posts these very words
        return
    try:
        posted = studio.comments.post(ctx.user, artwork_id, text)
    except StudioError as exc:
        st.session_state[f"post_error_{artwork_id}"] = exc.message
        return
    st.session_state.pop(confirm_key, None)
    st.session_state[f"support_{artwork_id}"] = posted.support
    # Set before the box is drawn, so the browser's box empties too.
    st.session_state[draft_key] = ""


def _editing_key(artwork_id: str) -> str:
    return f"editing_comment_{artwork_id}"


def _own_comment(ctx: Context, comment, hint: str) -> None:
    """One's own comment: its words, or the one edit box when it is the one being edited."""
    studio = ctx.studio
    editing_key = _editing_key(comment.artwork_id)
    if st.session_state.get(editing_key) == comment.id:
        st.text_area(
            "Your comment",
            value=comment.text,
            max_chars=COMMENT_LIMIT,
            key=f"edit_text_{comment.id}",
        )
        error = st.session_state.pop(f"edit_error_{comment.id}", None)
        if error:
            st.error(error)
        save, delete, cancel = st.columns(3)
        save.button(
            "Save",
            key=f"edit_save_{comment.id}",
            type="primary",
            on_click=_save_comment,
            args=(ctx, comment.id, comment.artwork_id),
        )
        delete.button(
            "Delete my comment",
            key=f"delete_comment_{comment.id}",
            icon=":material/delete:",
            on_click=_delete_comment,
            args=(ctx, comment.id, comment.artwork_id),
        )
        cancel.button(
            "Cancel",
            key=f"edit_cancel_{comment.id}",
            type="tertiary",
            on_click=_stop_editing,
            args=(editing_key,),
        )
        return
    show_text(comment.text)
    if hint:
        st.caption(hint)
    age = (studio.now() - comment.created_at).total_seconds() if comment.created_at else 1e9
    # One small button a comment, so a long thread stays quick.
    if age < EDIT_MINUTES * 60:
        st.button(
            "Change or delete",
            key=f"edit_{comment.id}",
            type="tertiary",
            on_click=_start_editing,
            args=(editing_key, comment.id),
        )
    else:
        st.button(
            "Delete my comment",
            key=f"delete_comment_{comment.id}",
            type="tertiary",
            on_click=_delete_comment,
            args=(ctx, comment.id, comment.artwork_id),
        )


def _start_editing(editing_key: str, item_id: str) -> None:
    st.session_state[editing_key] = item_id


def _stop_editing(editing_key: str) -> None:
    st.session_state.pop(editing_key, None)


def _save_comment(ctx: Context, comment_id: str, artwork_id: str) -> None:
    text = st.session_state.get(f"edit_text_{comment_id}") or ""
    try:
        edited = ctx.studio.comments.edit(ctx.user, comment_id, text)
    except StudioError as exc:
        st.session_state[f"edit_error_{comment_id}"] = exc.message
        return
    st.session_state.pop(_editing_key(artwork_id), None)
    st.session_state[f"support_{artwork_id}"] = edited.support


def _delete_comment(ctx: Context, comment_id: str, artwork_id: str) -> None:
    ctx.studio.comments.delete(ctx.user, comment_id)
    _stop_editing(_editing_key(artwork_id))


def _report_comment(ctx: Context, comment) -> None:
    """A small "Report" button; the one comment being reported shows the reason box."""
    reporting_key = f"reporting_comment_{comment.artwork_id}"
    if st.session_state.get(reporting_key) != comment.id:
        st.button(
            "Report this comment",
            key=f"report_{comment.id}",
            type="tertiary",
            on_click=_start_editing,
            args=(reporting_key, comment.id),
        )
        return
    st.text_area("What worries you about it?", key=f"report_reason_{comment.id}", max_chars=500)
    error = st.session_state.pop(f"report_error_{comment.id}", None)
    if error:
        st.error(error)
    send, cancel, _ = st.columns([2, 1, 2])
    send.button(
        "Send to a facilitator",
        key=f"report_send_{comment.id}",
        on_click=_send_report,
        args=(ctx, comment.id, comment.artwork_id),
    )
    cancel.button(
        "Cancel", key=f"report_cancel_{comment.id}", on_click=_stop_editing, args=(reporting_key,)
    )


def _send_report(ctx: Context, comment_id: str, artwork_id: str) -> None:
    reason = st.session_state.get(f"report_reason_{comment_id}") or ""
    try:
        ctx.studio.moderation.report(ctx.user, "comment", comment_id, reason)
    except StudioError as exc:
        st.session_state[f"report_error_{comment_id}"] = exc.message
        return
    # The comment is hidden now, so the thanks show above the thread instead.
    st.session_state.pop(f"reporting_comment_{artwork_id}", None)
    st.session_state[f"report_thanks_{artwork_id}"] = True


def _report(ctx: Context, kind: str, subject_id: str, label: str) -> None:
    with st.popover(f"Report {label}"):
        reason = st.text_area(
            "What worries you about it?", key=f"report_reason_{subject_id}", max_chars=500
        )
        if st.button("Send to a facilitator", key=f"report_send_{subject_id}"):
            try:
                ctx.studio.moderation.report(ctx.user, kind, subject_id, reason)
            except StudioError as exc:
                st.error(exc.message)
                return
            st.success("Thank you. A facilitator will take a look; it's hidden for now.")


def _artist_tools(ctx: Context, artwork: Artwork) -> None:
    studio = ctx.studio
    with st.expander("Edit or delete your artwork"):
        with st.form(f"edit_{artwork.id}"):
            caption = st.text_area("Caption", value=artwork.caption, max_chars=500)
            alt_text = st.text_area("Alt text", value=artwork.alt_text, max_chars=1000)
            warning = st.text_input(
                "Content warning", value=artwork.content_warning or "", max_chars=120
            )
            comments_on = st.toggle("Allow comments", value=artwork.comments_enabled)
            exhibit = st.toggle(
                "Include in an exhibition if my facilitator makes one", value=artwork.exhibit_opt_in
            )
            saved = st.form_submit_button("Save changes")
        if saved:
            try:
                studio.artworks.edit(
                    ctx.user,
                    artwork.id,
                    caption=caption,
                    alt_text=alt_text,
                    content_warning=warning,
                    comments_enabled=comments_on,
                    exhibit_opt_in=exhibit,
                )
            except StudioError as exc:
                st.error(exc.message)
            else:
                flash("Saved.")
                st.rerun()
        if st.button("Delete this artwork", key=f"delete_{artwork.id}"):
            _confirm_delete(ctx, artwork.id)


@st.dialog("Delete this artwork?")
def _confirm_delete(ctx: Context, artwork_id: str) -> None:
    st.write("Its image, comments and reactions will be removed for good.")
    left, right = st.columns(2)
    if left.button("Yes, delete it", type="primary", key="confirm_delete_art"):
        ctx.studio.artworks.delete(ctx.user, artwork_id)
        # Back to the gallery as it was left: the filters came along in the address.
        st.switch_page(ctx.pages["gallery"], query_params=_filters_in_address())
    if right.button("Keep it", key="keep_art"):
        st.rerun()


if __name__ == "__main__":
    from ui.context import cold_start

    cold_start()
